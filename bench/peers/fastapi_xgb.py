"""fastapi_xgb.py - the Python peer of the server benchmark: a FastAPI service
that scores the same XGBoost model as `fraud serve`, the way the seed system's
Python scoring service does, behind the same KServe V2 / Open Inference
Protocol REST routes so one load client can drive both.

Run with Debian's packages (python3-fastapi, python3-uvicorn, python3-xgboost,
python3-numpy; python3-uvloop and python3-httptools make uvicorn faster when
present, and scripts/bench.sh installs them):

    FRAUD_PEER_MODEL=/path/to/model.json FRAUD_PEER_NAME=fraud \
    /usr/bin/python3 -m uvicorn --app-dir bench/peers fastapi_xgb:app \
        --host 127.0.0.1 --port 8090 --workers 2 --no-access-log --log-level warning

Each worker process loads the model once with nthread=1 (the benchmark runs
2 workers on 2 cores, so XGBoost's own threads would only contend).

Routes: GET /v2/health/live, GET /v2/health/ready, GET /v2/models/{name}
(metadata: one FP32 input "input" of shape [-1, F]), POST
/v2/models/{name}/infer (JSON tensor data, flat or nested, null for a
missing value; answers the "probability" output).  Errors answer 400/404
with {"error": ...} as the protocol says.
"""
import os

import numpy as np
import xgboost as xgb
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

MODEL_PATH = os.environ.get("FRAUD_PEER_MODEL", "")
MODEL_NAME = os.environ.get("FRAUD_PEER_NAME", "fraud")

booster = xgb.Booster(model_file=MODEL_PATH)
booster.set_param({"nthread": 1})
NFEATURES = booster.num_features()

app = FastAPI()


def error(status, message):
    return JSONResponse(status_code=status, content={"error": message})


@app.get("/v2/health/live")
def live():
    return {"live": True}


@app.get("/v2/health/ready")
def ready():
    return {"ready": True}


@app.get("/v2/models/{name}")
def metadata(name: str):
    if name != MODEL_NAME:
        return error(404, f"unknown model '{name}'")
    return {
        "name": MODEL_NAME,
        "versions": ["1"],
        "platform": "xgboost",
        "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, NFEATURES]}],
        "outputs": [{"name": "probability", "datatype": "FP32", "shape": [-1]}],
    }


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request):
    if name != MODEL_NAME:
        return error(404, f"unknown model '{name}'")
    try:
        body = await request.json()
        tensor = body["inputs"][0]
        shape = tensor["shape"]
        if tensor.get("datatype", "FP32") != "FP32":
            return error(400, "inputs[0].datatype: expected FP32")
        # float64 first: numpy turns JSON null (None) into NaN only there.
        x = np.array(tensor["data"], dtype=np.float64).astype(np.float32)
        x = x.reshape(shape)
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return error(400, f"bad infer request: {e}")
    if x.ndim != 2 or x.shape[1] != NFEATURES:
        return error(400, f"inputs[0].shape: expected [N, {NFEATURES}], got {list(x.shape)}")
    p = booster.inplace_predict(x)
    out = {
        "model_name": MODEL_NAME,
        "model_version": "1",
        "outputs": [{"name": "probability", "datatype": "FP32", "shape": [len(p)],
                     "data": p.tolist()}],
    }
    if "id" in body:
        out["id"] = body["id"]
    return out
