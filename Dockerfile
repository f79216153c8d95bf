# One image for every process of the system; docker-compose.yml picks the command.
# Build stage: generate the gRPC code from the protos with the pinned code generators.
FROM python:3.11-slim AS codegen
WORKDIR /src
COPY requirements/codegen.lock requirements/codegen.lock
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/codegen.lock
COPY protos protos
RUN python protos/generate.py

# Final stage: only the runtime dependencies, the code and the generated modules, run as a user.
FROM python:3.11-slim
WORKDIR /app
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements/runtime.lock \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin travel \
    && mkdir -p /data && chown travel /data
COPY --from=codegen /src/gen gen
COPY bus bus
COPY gateway gateway
COPY kit kit
COPY services services
COPY simulated_world simulated_world
ENV PYTHONPATH=/app:/app/gen PYTHONUNBUFFERED=1 TRAVEL_DATA_DIR=/data
# gRPC's socket path with fewer thread hops a call: kit/grpc_io.py says why and what it saves.
ENV GRPC_EXPERIMENTS=-event_engine_client,-event_engine_listener
USER travel
