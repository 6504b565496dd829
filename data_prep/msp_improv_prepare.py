#!/usr/bin/env python3
"""Prepare MSP-IMPROV manifests (see
:mod:`speechbrain_peft.corpora.msp_improv`)::

    python data_prep/msp_improv_prepare.py --data-folder DIR --save-folder DIR

Authors
 * speechbrain-peft-ser developers 2026
"""

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a file from a checkout: the package is one folder up.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from speechbrain_peft.corpora.msp_improv import main

    sys.exit(main())
