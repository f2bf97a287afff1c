#!/bin/sh
# Registers the namespace the breach processes use, once the server answers.
set -eu
ns="${NAMESPACE:-breach}"
until temporal operator cluster health --address temporal:7233 >/dev/null 2>&1; do
	echo "waiting for temporal"; sleep 2
done
temporal operator namespace describe -n "$ns" --address temporal:7233 >/dev/null 2>&1 ||
	temporal operator namespace create -n "$ns" --retention 720h --address temporal:7233
echo "namespace $ns ready"
