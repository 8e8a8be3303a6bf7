#!/bin/sh
# Nightly logical backup of the control plane's database (custom format, compressed), keeping
# the last $KEEP_DAYS days. Works for the compose stack and for a native PostgreSQL:
#   MMBOT_BACKUP_MODE=compose  docker compose -f /opt/mmbot/infra/compose.yaml exec postgres pg_dump
#   MMBOT_BACKUP_MODE=native   pg_dump over the local socket as the mmbot role
# Restore: see infra/postgres/README.md.
set -eu
BACKUP_DIR=${MMBOT_BACKUP_DIR:-/var/backups/mmbot}
KEEP_DAYS=${MMBOT_BACKUP_KEEP_DAYS:-14}
MODE=${MMBOT_BACKUP_MODE:-compose}
COMPOSE_FILE=${MMBOT_COMPOSE_FILE:-/opt/mmbot/infra/compose.yaml}
umask 077
mkdir -p "$BACKUP_DIR"
out="$BACKUP_DIR/mmbot-$(date -u +%Y%m%dT%H%M%SZ).dump"
case "$MODE" in
  compose) docker compose -f "$COMPOSE_FILE" exec -T postgres \
             pg_dump --format=custom --username=mmbot mmbot > "$out.tmp" ;;
  native)  pg_dump --format=custom --dbname="${MMBOT_BACKUP_DSN:-postgresql:///mmbot}" > "$out.tmp" ;;
  *) echo "MMBOT_BACKUP_MODE must be compose or native" >&2; exit 2 ;;
esac
mv "$out.tmp" "$out"
find "$BACKUP_DIR" -name 'mmbot-*.dump' -type f -mtime +"$KEEP_DAYS" -delete
echo "backup written: $out ($(du -h "$out" | cut -f1))"
