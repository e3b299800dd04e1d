"""urllib_parse._splitport: Return the port as an int instead of a string."""

SETUP = "import re\n_portprog = None"

REFERENCE = '''def _splitport(host):
    """splitport('host:port') --> 'host', port (an int)."""
    global _portprog
    if _portprog is None:
        _portprog = re.compile('(.*):([0-9]*)', re.DOTALL)

    match = _portprog.fullmatch(host)
    if match:
        host, port = match.groups()
        if port:
            return host, int(port)
    return host, None
'''


def _same(got, want):
    # equal and of the same types (an int port, not a str; None stays None)
    return got == want and [type(x) for x in got] == [type(x) for x in want]


# the asked change: a port comes back as an int
assert _same(_splitport("host:80"), ("host", 80)), _splitport("host:80")
assert _same(_splitport("[::1]:8080"), ("[::1]", 8080))
assert _same(_splitport("host:0080"), ("host", 80))
assert _same(_splitport("user@h:1:2"), ("user@h:1", 2))
assert _same(_splitport(":443"), ("", 443))

# no port is still None, and the host part is split as before
assert _same(_splitport("host"), ("host", None))
assert _same(_splitport("host:"), ("host", None))
assert _same(_splitport("a:b"), ("a:b", None))
assert _same(_splitport(""), ("", None))
assert _same(_splitport("host:80"), ("host", 80))  # again, with the compiled pattern cached
