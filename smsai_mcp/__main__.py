from smsai_mcp.cli import main

raise SystemExit(main())
