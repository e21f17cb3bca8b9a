import sys

from ragls.cli.main import main

sys.exit(main())
