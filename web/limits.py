"""The collection server's limits, in one place (web/server.py enforces them; `cropstyle serve` shows the
defaults of those it lets you change). web/README.md explains each."""

MAX_PHOTO_BYTES = 20 * 1024 * 1024  # the photo itself
MAX_BODY_BYTES = MAX_PHOTO_BYTES + 256 * 1024  # the whole multipart request: photo, labels, boundaries
# What decoding a photo may allocate (width × height × bands × bytes per band, as Pillow keeps it: 3 bands of
# 8 bits in 4 bytes), checked on the declared size before decoding. 64 MiB: 16 MP in RGB, so a 4000×3000
# photo fits; the page sends at most 1024 px.
MAX_DECODED_BYTES = 64 * 2**20
DECODE_SLOTS = 2  # photos held in memory and decoded at once, per server process: the others wait their turn
MAX_FIELD_BYTES = 16 * 1024  # crop, predicted, model
MAX_MODEL_NAME = 200

# Failed token checks per client address, all processes together: past these, every token check from that
# address (the right token too) is answered 429 until the bucket refills.
AUTH_FAILURES_PER_MINUTE = 10
AUTH_FAILURE_BURST = 10

HEADER_TIMEOUT_S = 10.0  # from the connection (or the previous response) to the end of the request's headers
BODY_TIMEOUT_S = 30.0  # from the end of the headers to the end of the body (20 MB: 5.6 Mbit/s)
KEEP_ALIVE_S = 5  # an idle keep-alive connection is closed after this
MAX_CONNECTIONS = 200  # open connections per server process; the request of one more is answered 503
