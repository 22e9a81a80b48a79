"""What people read: summary.txt, summary.json and the figures, each rendered from the analysis; nothing here
recomputes a statistic or guesses a reason."""
