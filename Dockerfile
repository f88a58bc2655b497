# The SendPipe image: one `sendpipe` command, run as the operator or a worker.
# Build: docker build -t sendpipe/sendpipe:0.1.0 .
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sendpipe ./sendpipe
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin sendpipe
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 10001:10001
# The root filesystem is read-only in the chart: Faust's tables live in /var/lib/sendpipe (a volume),
# and HOME is /tmp (an emptyDir there) because the user has no home directory.
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SENDPIPE_WORKER_DATA_DIR=/var/lib/sendpipe HOME=/tmp
ENTRYPOINT ["sendpipe"]
CMD ["--help"]
