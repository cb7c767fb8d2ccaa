from mts_service.cli import main

raise SystemExit(main())
