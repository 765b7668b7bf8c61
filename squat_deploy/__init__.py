"""squat-deploy: integer deployment of quantization-aware-trained spiking networks."""

__version__ = "0.1.0"
