"""The collection server's limits, in one place (web/guards.py, web/uploads.py and web/server.py enforce them;
`cropstyle serve` shows the defaults of those it lets you change). web/README.md explains each."""

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # the photo itself
MAX_BODY_BYTES = MAX_PHOTO_BYTES + 256 * 1024  # the whole multipart request: photo, labels, boundaries
# What decoding a photo may allocate, checked on the declared size before decoding (web/uploads.py: Pillow's image,
# 4 bytes a pixel for RGB, LA or CMYK, and the decoder's own buffers: libjpeg's coefficients for a progressive JPEG,
# libwebp's canvases). 64 MiB: a baseline 4000×3000 JPEG fits (a progressive one, 7 bytes a pixel, up to 9.5 MP),
# a WebP up to 3.9 MP; the page sends at most 1024 px.
MAX_DECODED_BYTES = 64 * 2**20
# What decoding a JPEG may cost in time, checked on its markers before decoding: libjpeg decodes every block of a
# scan's components in every scan, even a scan of a few bytes, so repeated scans cost seconds in a few hundred KB.
MAX_JPEG_SCANS = 500  # TJPARAM_SCANLIMIT in libjpeg-turbo's own fuzzers; libjpeg writes 10 (YCbCr), 6 (grey), 18 (CMYK)
MAX_JPEG_SCAN_BLOCKS = 8_000_000  # 8×8 blocks decoded, all scans together: ~4× a progressive photo at the limit above
# What reading a photo's headers may cost: Pillow reads a JPEG's segments and a PNG's chunks one at a time, in
# Python, so millions of tiny ones cost tens of seconds in 20 MB. Cameras write a few dozen.
MAX_JPEG_SEGMENTS = 1_000
MAX_JPEG_JUNK_BYTES = 64 * 1024  # fill bytes and junk between a JPEG's segments (Pillow skips them byte by byte)
MAX_PNG_CHUNKS = 10_000
DECODE_SLOTS = 2  # photos held in memory and decoded at once, per server process: the others wait their turn
MAX_FIELD_BYTES = 16 * 1024  # crop, predicted, model, suggestion
MAX_MODEL_NAME = 200

# Failed token checks per client address, all processes together: past these, every token check from that
# address (the right token too) is answered 429 until the bucket refills.
AUTH_FAILURES_PER_MINUTE = 10
AUTH_FAILURE_BURST = 10

HEADER_TIMEOUT_S = 10.0  # from the connection (or the previous response) to the end of the request's headers
BODY_TIMEOUT_S = 30.0  # from the end of the headers to the end of the body (20 MB: 5.6 Mbit/s)
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 200  # open connections per server process; the request of one more is answered 503
