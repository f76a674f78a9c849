"""A small web service: the kind of app the generated pipeline builds and deploys."""
