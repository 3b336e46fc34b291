"""Signal generators: pure, synchronous code. Prices in, intents out."""
