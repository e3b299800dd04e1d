"""shutil.copyfileobj: Return the total number of bytes copied."""

SETUP = "from shutil import COPY_BUFSIZE"

REFERENCE = '''def copyfileobj(fsrc, fdst, length=0):
    """copy data from file-like object fsrc to file-like object fdst

    Return the total number of bytes copied.
    """
    if not length:
        length = COPY_BUFSIZE
    # Localize variable access to minimize overhead.
    fsrc_read = fsrc.read
    fdst_write = fdst.write
    total = 0
    while True:
        buf = fsrc_read(length)
        if not buf:
            break
        fdst_write(buf)
        total += len(buf)
    return total
'''

import io


class _Reader:
    """A file-like source that records the sizes asked of read()."""

    def __init__(self, data):
        self.data, self.sizes = data, []

    def read(self, size):
        self.sizes.append(size)
        chunk, self.data = self.data[:size], self.data[size:]
        return chunk


class _Sink:
    """A file-like destination whose write() returns None, as many do."""

    def __init__(self):
        self.parts = []

    def write(self, data):
        self.parts.append(data)


# the asked change: the number of bytes copied is returned
_dst = io.BytesIO()
assert copyfileobj(io.BytesIO(b"hello world"), _dst) == 11 and _dst.getvalue() == b"hello world"
_dst = io.BytesIO()
assert copyfileobj(io.BytesIO(b""), _dst) == 0 and _dst.getvalue() == b""
_src, _sink = _Reader(b"0123456789"), _Sink()
assert copyfileobj(_src, _sink, 3) == 10
assert _sink.parts == [b"012", b"345", b"678", b"9"] and _src.sizes == [3, 3, 3, 3, 3]

# the copy is kept: big data, the default buffer size, a destination whose write() returns None
_data = bytes(range(256)) * 1000
_src, _sink = _Reader(_data), _Sink()
assert copyfileobj(_src, _sink) == 256000
assert b"".join(_sink.parts) == _data and set(_src.sizes) == {COPY_BUFSIZE}
_src, _sink = _Reader(b"abc"), _Sink()
assert copyfileobj(_src, _sink, 0) == 3 and _sink.parts == [b"abc"] and _src.sizes == [COPY_BUFSIZE, COPY_BUFSIZE]
