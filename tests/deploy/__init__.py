"""Tests of the deploy files: docker-compose, Kubernetes manifests, the Dockerfile and the SQL they run."""
