#!/bin/sh
while read name rest; do
	if [ "$name" = tun ]; then echo "RUNMATRIX-SUMMARY: tun loaded"; exit 0; fi
done < /proc/modules
echo "RUNMATRIX-SUMMARY: no tun"
