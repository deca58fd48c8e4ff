FROM debian:${VARIANT}
