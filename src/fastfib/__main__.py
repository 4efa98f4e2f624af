from fastfib.cli import main

raise SystemExit(main())
