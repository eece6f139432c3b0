"""Training and evaluation of the crop model.

crop_tf.py    the crop geometry of extractor/geometry.py in TensorFlow ops (head, flip, loss)
pipeline.py   labels.csv → split by photo → tf.data (decode, resize, cache, augment, prefetch)
model.py      the architectures and their bounded crop head
losses.py     the loss (IoU-aware term + L1 or MSE) and the training metric
train.py      `cropstyle train`: train(datasets, out, ...) -> TrainResult
metrics.py    IoU, boundary displacement error, angle error
baselines.py  full, mean, random and saliency croppers
evaluate.py   `cropstyle evaluate`: evaluate(run, datasets, out) -> metrics dict, contact sheet
drawing.py    crops drawn on photos (TensorBoard previews, contact sheet)
"""
