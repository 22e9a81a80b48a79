"""`python -m metta_ab` is the `metta-ab` command."""

import sys

from metta_ab.cli import main

sys.exit(main())
