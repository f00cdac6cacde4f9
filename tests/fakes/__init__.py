"""Local stand-ins for vendor APIs, speaking each vendor's documented wire format.

Each fake is a Starlette app served on 127.0.0.1 by ``tests.fakes.server.serve``;
it records the requests it received and has switches to answer the way the vendor
does when it rate-limits, rejects credentials, misses an object or fails.
``tests.fakes.smtp`` is the exception: a real aiosmtpd server with AUTH and TLS.
"""
