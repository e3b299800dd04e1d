from amigo.cli import main

raise SystemExit(main())
