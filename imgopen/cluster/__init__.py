"""imgopen as a cluster: the API publishes "a task is queued" over Celery (RabbitMQ or Redis), worker
processes claim task rows and run them. The task table stays the only truth (see celery_app.py)."""
