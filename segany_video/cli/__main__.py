"""``python -m segany_video.cli``: the same as the ``segany-video`` script."""

from __future__ import annotations

import sys

from segany_video.cli import main

sys.exit(main())
