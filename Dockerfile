# syntax=docker/dockerfile:1
# Portcullis container image: docker build -t portcullis .
#   docker run --rm --read-only -p 3128:3128 -p 9090:9090 -v portcullis-state:/var/lib/portcullis portcullis
# Base images are pinned by version; pin them by digest too in your own registry
# (FROM node:20.20.2-bookworm-slim@sha256:...) to make the build reproducible.

# Build: compile, pack the npm package and install it exactly as users do (the tarball,
# --omit=dev), with the compiler the SO_ORIGINAL_DST addon needs.
FROM node:20.20.2-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
RUN npm run build --silent \
 && npm pack --ignore-scripts --pack-destination /tmp \
 && npm install --global --prefix /opt/portcullis --omit=dev --no-audit --no-fund /tmp/portcullis-*.tgz \
 && npm cache clean --force

# Run: the slim image, the installed package, no compiler, no npm cache, a non-root user.
FROM node:20.20.2-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PATH=/opt/portcullis/bin:$PATH
COPY --from=build /opt/portcullis /opt/portcullis
COPY deploy/container/portcullis.yaml /etc/portcullis/portcullis.yaml
# State (the generated CA and the admin token) lives on a volume; the root filesystem can be
# read-only. 10001 is no user of the base image.
RUN mkdir -p /var/lib/portcullis && chown 10001:10001 /var/lib/portcullis && chmod 0700 /var/lib/portcullis
VOLUME ["/var/lib/portcullis"]
USER 10001:10001
WORKDIR /var/lib/portcullis
EXPOSE 3128 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and receives SIGTERM (drain), SIGHUP (reload) and SIGUSR1 itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["portcullis", "run"]
CMD ["-c", "/etc/portcullis/portcullis.yaml"]
