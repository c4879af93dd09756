from voicetrainer.cli import main

raise SystemExit(main())
