# One image for every process of the system; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml ./
COPY . .
RUN pip install --no-cache-dir . && python protos/generate.py
ENV PYTHONPATH=/app:/app/gen PYTHONUNBUFFERED=1
