"""The HTTP edge: REST transcoded to gRPC from google.api.http annotations, health and OpenAPI."""
