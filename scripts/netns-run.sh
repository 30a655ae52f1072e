#!/bin/sh
# netns-run.sh CMD... : run CMD in a fresh network namespace that has only a loopback interface,
# with multicast routed to it. WS-Discovery probes and ONVIF devices' Hello messages sent there
# can reach nothing but `lo`: nothing can leave the machine. Needs root (CI runs as root) or
# unprivileged user namespaces (then `unshare -rn` maps the caller to root inside).
set -eu
SETUP='ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo'
if [ "$(id -u)" = "0" ]; then
  exec unshare -n -- sh -c "$SETUP"' && exec "$@"' netns-run "$@"
else
  exec unshare -rn -- sh -c "$SETUP"' && exec "$@"' netns-run "$@"
fi
