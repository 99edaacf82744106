-- terminate, as `ramp terminate analysisrun`: stop measuring.
obj.spec.terminate = true
return obj
