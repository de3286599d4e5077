import sys

from voxflow.cli import main

sys.exit(main())
