#!/bin/bash
# The image's HEALTHCHECK without curl (not every Java base image has it): one HTTP/1.0 GET over bash's
# /dev/tcp, healthy when the answer is 200. Usage: healthcheck PATH [PORT] (default: the management port)
path=${1:-/actuator/health/readiness}
port=${2:-8082}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" >&3
IFS=' ' read -r -t 3 _ status _ <&3 || exit 1
[ "$status" = "200" ]
