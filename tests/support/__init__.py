"""What tests share: polling with a deadline, free ports, databases, pub/sub, a served gateway, providers."""
