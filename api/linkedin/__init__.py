"""LinkedIn: request/response models and the service functions behind its routes."""
