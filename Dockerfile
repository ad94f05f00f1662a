# The fundwatch worker image used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY feeds feeds
COPY schemas schemas
COPY ingest ingest
COPY models models
COPY streams streams
COPY deploy deploy
RUN pip install --no-cache-dir .
ENV FUNDWATCH_DATA_DIR=/var/lib/fundwatch
EXPOSE 6066
ENTRYPOINT ["fundwatch"]
CMD ["worker", "--loglevel", "info", "--web-port", "6066", "--web-host", "0.0.0.0"]
