"""``python -m handreid.data.synthetic``: see :func:`handreid.data.synthetic.main`."""

from . import main

raise SystemExit(main())
