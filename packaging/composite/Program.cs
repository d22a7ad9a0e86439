// Never run: this project exists to publish shaperd and shaperctl as one composite image (see Composite.csproj).
return 0;
