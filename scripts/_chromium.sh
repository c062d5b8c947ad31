# Sourced by the scripts: browser tests need Debian's chromium (/usr/bin/chromium); as root this installs it when
# missing (once, before any test process starts, since apt allows one installer at a time).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
        || echo "chromium could not be installed: browser tests will be skipped" >&2
fi
