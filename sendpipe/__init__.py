"""SendPipe: transactional email, SMS and WhatsApp through the customer's own providers."""

__version__ = "0.1.0"
