-- abort, as `ramp abort`: traffic back to the stable version.
if obj.status == nil then
  obj.status = {}
end
obj.status.abort = true
return obj
