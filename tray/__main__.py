from tray.app import main

raise SystemExit(main())
