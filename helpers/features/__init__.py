"""Layer 4: frozen ResNet18 features, by job: ``weights`` (the backbone and its weights), ``extract``
(images to features) and ``cache`` (content-keyed, resumable storage). The device and precision
policy they follow is ``helpers.core.device``."""
