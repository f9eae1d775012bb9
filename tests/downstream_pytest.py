"""How this suite runs pytest over a downstream project's tests."""

from __future__ import annotations

#: No cache left in the project's folder, and pytest-asyncio's fixture loop
#: scope set as its deprecation warning asks (the installed-wheel runs turn
#: every warning into an error). "function" is what the unset option gives a
#: function-scoped fixture anyway, so the loop handling stays pytest-asyncio's default.
ARGS = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")
#: The same run with pytest-asyncio disabled, as in a project that does not install it.
WITHOUT_ASYNCIO = ("-p", "no:cacheprovider", "-p", "no:asyncio")
