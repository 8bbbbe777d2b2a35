"""Commands that measure and print figures; not part of the product's pipeline."""
