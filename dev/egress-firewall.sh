#!/usr/bin/env bash
# Keeps sandboxes of `network: egress` modules off the host and off link-local addresses
# (the cloud metadata service at 169.254.169.254 among them). They sit on the worker's
# egress network, whose bridge interface has a known name (EGRESS_BRIDGE): every packet
# they send to one of the host's own addresses is dropped as it arrives (mangle
# PREROUTING, before Docker's port publishing could forward it to a container), and
# every packet to a blocked range on DOCKER-USER (Docker's hook in FORWARD).
# Inter-container traffic is off on that network itself. Docker's embedded DNS answers inside each container's
# namespace, so name resolution still works. IPv4 only: the network has no IPv6.
#
#   dev/egress-firewall.sh          install the rules (idempotent)
#   dev/egress-firewall.sh check    exit 1 naming each missing rule
#
# EGRESS_BLOCKED adds ranges (comma-separated CIDRs) to 169.254.0.0/16, for example a
# VPC's private ranges. Needs root and a running Docker engine (for DOCKER-USER).
set -euo pipefail
. "$(dirname "$0")/env.sh"

# The local AWS emulator's network (dev/emulator.sh) is fenced the same way.
bridges="${EGRESS_BRIDGE:-sage-egress0} ${EMULATOR_BRIDGE:-sage-emu0}"
blocked="169.254.0.0/16${EGRESS_BLOCKED:+,$EGRESS_BLOCKED}"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# Each rule as "<table> <chain> <match...>", all ending in DROP.
# Every packet to the host is dropped but answers to connections the host opened (the
# worker asking the emulator's STS), which must come back.
rules() {
  local bridge range
  for bridge in $bridges; do
    echo "mangle PREROUTING -i $bridge -m addrtype --dst-type LOCAL -m conntrack ! --ctstate ESTABLISHED,RELATED"
    for range in ${blocked//,/ }; do echo "filter DOCKER-USER -i $bridge -d $range"; done
  done
}

missing=0
while read -r table chain match; do
  # shellcheck disable=SC2086
  if ! $SUDO iptables -t "$table" -C "$chain" $match -j DROP 2>/dev/null; then
    if [ "${1:-install}" = check ]; then
      echo "egress-firewall: missing: iptables -t $table -I $chain $match -j DROP" >&2
      missing=1
    else
      # shellcheck disable=SC2086
      $SUDO iptables -t "$table" -I "$chain" $match -j DROP
    fi
  fi
done < <(rules)
exit "$missing"
