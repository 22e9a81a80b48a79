"""The whitelisted app's model: in a module of its own, so that joblib's workers can import it."""


class Model:
    def __init__(self, lr: float) -> None:
        self.lr = lr
