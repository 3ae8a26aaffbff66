"""Patient passwords: delivery by SMS and e-mail ("Skicka nytt lösenord"), and the patient's own change."""
