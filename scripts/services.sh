#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer on 127.0.0.1 before the test suite runs.
# Starts them with the machine's own commands when they are down; fails loudly when they cannot be started.
set -u
pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || python3 -c "import socket; socket.create_connection(('127.0.0.1', 5432), 1)" 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

if ! pg_up; then
  echo "services: PostgreSQL is down, starting it" >&2
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if ! redis_up; then
  echo "services: Redis is down, starting it" >&2
  if command -v redis-server >/dev/null 2>&1; then
    mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
      --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  fi
  for _ in $(seq 1 30); do redis_up && break; sleep 1; done
fi
ok=1
pg_up || { echo "services: FATAL: PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started" >&2; ok=0; }
redis_up || { echo "services: FATAL: Redis is not reachable on 127.0.0.1:6379 and could not be started" >&2; ok=0; }
[ "$ok" = 1 ] || exit 1
echo "services: PostgreSQL and Redis are up" >&2
