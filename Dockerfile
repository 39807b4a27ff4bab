# CNN Explorer's image: the app, its assets and its runtime requirements, served by one Streamlit
# process as an unprivileged user. compose.yaml runs replicas of it behind HAProxy; deploy/ runs
# it on Kubernetes. Linted by hadolint in `make test` (tests/test_deploy.py).
#
#   docker build -t cnn-explorer:cpu .                       # CPU: PyTorch's CPU wheel
#   docker build -t cnn-explorer:cuda \
#       --build-arg TORCH_INDEX_URL=https://pypi.org/simple .  # NVIDIA GPU: PyPI's CUDA wheel
#   docker run --rm -p 127.0.0.1:8501:8501 cnn-explorer:cpu
#
# The CUDA variant needs no CUDA base image: PyPI's Linux torch wheel brings the CUDA runtime
# libraries as pip packages, and the host brings the driver (NVIDIA Container Toolkit:
# `docker run --gpus all`, or the nvidia.com/gpu device plugin on Kubernetes).

# Debian 12, as on our development machines; Python 3.11, as requirements.txt is pinned for.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------- build: the virtual environment
FROM ${PYTHON_IMAGE} AS build
# Where torch==2.13.0 comes from (scripts/install-runtime.sh): PyTorch's CPU index by default.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
WORKDIR /build
COPY requirements.txt scripts/install-runtime.sh ./
# The same steps a test can run in a clean virtual environment without a container builder.
RUN TORCH_INDEX_URL="${TORCH_INDEX_URL}" bash install-runtime.sh /opt/venv requirements.txt

# ---------------------------------------------------------------- runtime: the app, non-root
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/app \
    # Inside the container only: the published port decides who can reach it (compose.yaml
    # publishes HAProxy alone, on 127.0.0.1 unless told otherwise). Outside a container the
    # app stays on 127.0.0.1 (.streamlit/config.toml).
    STREAMLIT_SERVER_ADDRESS=0.0.0.0 \
    STREAMLIT_SERVER_PORT=8501 \
    # One process is about one core (one GIL): one torch thread per process, so a replica
    # limited to one CPU does not run a thread per host core and get throttled.
    OMP_NUM_THREADS=1 \
    MKL_NUM_THREADS=1 \
    CNNX_READY_FILE=/tmp/cnn-explorer.ready
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid app --create-home --home-dir /home/app \
        --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only to the app's user: the server cannot change its own code.
COPY app.py requirements.txt ./
COPY .streamlit/config.toml .streamlit/config.toml
COPY explorer explorer
COPY pages pages
COPY assets assets
COPY scripts/__init__.py scripts/serve.py scripts/ready.py scripts/drain.py scripts/
RUN python -m compileall -q /app
USER 10001:10001
EXPOSE 8501
# Healthy = warm (the networks loaded, scripts/serve.py) and /_stcore/health answering.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-m", "scripts.ready"]
CMD ["python", "-m", "scripts.serve"]
